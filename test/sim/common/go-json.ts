// The error Go's encoding/json reports for text that does not parse, for the messages SPIRE wraps around a
// corrupt file (e.g. the disk KeyManager's "unable to decode keys JSON: …"). A small scanner finds the first
// offending character and names the state Go's scanner was in (encoding/json/scanner.go).

function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  return /^[\x20-\x7e]$/.test(c) ? `'${c}'` : `'\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}'`;
}

class Stop extends Error {}

function scan(text: string): string | undefined {
  let i = 0;
  const fail = (context: string): never => {
    if (i >= text.length) throw new Stop('unexpected end of JSON input');
    throw new Stop(`invalid character ${quoteChar(text[i] as string)} ${context}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail(`in literal ${word} (expecting ${quoteChar(ch)})`);
      i++;
    }
  };
  const string = () => {
    i++;
    while (text[i] !== '"') {
      if (i >= text.length) fail('');
      const c = text.charCodeAt(i);
      if (c < 0x20) fail('in string literal');
      i += text[i] === '\\' ? 2 : 1;
    }
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail('looking for beginning of object key string');
        string();
        ws();
        if (text[i] !== ':') fail('after object key');
        i++;
        value();
        ws();
        if (text[i] === '}') return void i++;
        if (text[i] !== ',') fail('after object key:value pair');
        i++;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ']') return void i++;
        if (text[i] !== ',') fail('after array element');
        i++;
      }
    }
    const words: Record<string, string> = { t: 'true', f: 'false', n: 'null' };
    if (c === '"') string();
    else if (c !== undefined && words[c]) literal(words[c] as string);
    else if (c !== undefined && /[-0-9]/.test(c)) {
      while (i < text.length && /[-+0-9.eE]/.test(text[i] as string)) i++;
    } else fail('looking for beginning of value');
  };
  try {
    value();
    ws();
    if (i < text.length) fail('after top-level value');
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return err.message;
    throw err;
  }
}

/** Go's json.Unmarshal syntax error for `text`, or undefined when it is valid JSON. */
export function goJsonError(text: string): string | undefined {
  return scan(text);
}

/** Go's base64.StdEncoding error when decoding a JSON []byte field. */
export function goBase64Error(value: string): string | undefined {
  const bad = value.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) return `illegal base64 data at input byte ${bad}`;
  if (value.length % 4 !== 0) return `illegal base64 data at input byte ${value.length - (value.length % 4)}`;
  return undefined;
}

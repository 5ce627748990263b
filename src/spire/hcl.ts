// A small HCL (v1, as SPIRE parses it) writer: attributes, labelled blocks, escaped strings.

export type HclValue = string | number | boolean | readonly HclValue[];

export interface HclAttribute {
  readonly kind: 'attribute';
  readonly name: string;
  readonly value: HclValue;
}

export interface HclBlock {
  readonly kind: 'block';
  readonly type: string;
  readonly labels: readonly string[];
  readonly body: readonly HclNode[];
}

export type HclNode = HclAttribute | HclBlock;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const INDENT = '  ';

// Names come from our own code, never from users; a bad one is a programming error.
function checkIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`invalid HCL identifier ${JSON.stringify(name)}`);
  return name;
}

/** An attribute `name = value`. */
export function attr(name: string, value: HclValue): HclAttribute {
  return { kind: 'attribute', name: checkIdentifier(name), value };
}

/** A block `type "label" ... { body }`. */
export function block(type: string, labels: readonly string[], body: readonly HclNode[]): HclBlock {
  return { kind: 'block', type: checkIdentifier(type), labels, body };
}

function unicodeEscape(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Quotes a string so that any HCL reader gets back exactly the same characters and nothing else. */
export function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = ch.charCodeAt(0);
    const next = text[i + 1];
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) out += unicodeEscape(code);
    // HCL v1 has no `$${` escape: its scanner treats `${` as an interpolation in which quotes do not end the
    // string, and `$${` still contains `${`. A \u escape of the `$` (or `%`) round-trips exactly and is inert
    // for HCL v1 and v2 readers alike.
    else if ((ch === '$' || ch === '%') && next === '{') out += unicodeEscape(code);
    else out += ch;
  }
  return `${out}"`;
}

/** Formats a value: quoted string, integer or decimal number, bool, or a list of values. */
export function formatValue(value: HclValue): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`HCL cannot represent the number ${value}`);
    return String(value);
  }
  return `[${value.map(formatValue).join(', ')}]`;
}

function renderNode(node: HclNode, depth: number): string[] {
  const pad = INDENT.repeat(depth);
  if (node.kind === 'attribute') return [`${pad}${node.name} = ${formatValue(node.value)}`];
  const head = [node.type, ...node.labels.map(quote)].join(' ');
  if (node.body.length === 0) return [`${pad}${head} {}`];
  return [`${pad}${head} {`, ...node.body.flatMap((child) => renderNode(child, depth + 1)), `${pad}}`];
}

/** Renders a document: top-level nodes separated by blank lines, ending with a newline. */
export function renderHcl(nodes: readonly HclNode[]): string {
  return `${nodes.map((node) => renderNode(node, 0).join('\n')).join('\n\n')}\n`;
}

// Control characters break HCL, HTTP headers and log lines; every layer that takes outside text checks for them
// the same way.

const isControl = (code: number): boolean => code < 0x20 || code === 0x7f;

/** True when text holds a C0 control character or DEL. */
export function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (isControl(text.charCodeAt(i))) return true;
  }
  return false;
}

/** Text with every run of control characters replaced by one space. */
export function flattenControlChars(text: string): string {
  let out = '';
  let inRun = false;
  for (const ch of text) {
    const control = isControl(ch.charCodeAt(0));
    if (!control) out += ch;
    else if (!inRun) out += ' ';
    inRun = control;
  }
  return out;
}

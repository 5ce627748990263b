// js-hcl-parser is hashicorp/hcl (v1) compiled to JavaScript; it ships no types. It is CommonJS without
// detectable named exports, so only the default import works from ESM.
declare module 'js-hcl-parser' {
  const hcl: {
    /** Parses HCL text and returns the equivalent JSON text; throws on a syntax error. */
    parse(text: string): string;
    /** Turns JSON text into HCL text. */
    stringify(json: string): string;
  };
  export default hcl;
}

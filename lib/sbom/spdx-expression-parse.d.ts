declare module 'spdx-expression-parse' {
  /** Parses an SPDX licence expression; throws on an invalid one. */
  export default function parse(expression: string): unknown;
}

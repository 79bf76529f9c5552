// Text as the index sees it (BM25 terms and embedder input), never what is displayed.
// Mnemonic brackets inside words, as in "E[x]tract" or "[c]reate a [f]ile", would split
// words into fragments no query contains; joining them keeps the real word.
const MNEMONIC = /\[(\p{L}{1,4})\](?=\p{L})|(?<=\p{L})\[(\p{L}{1,4})\]/gu;

export function indexText(text: string): string {
  return text.includes('[') ? text.replace(MNEMONIC, (_m, a?: string, b?: string) => a ?? b ?? '') : text;
}

// Token estimates for sizing chunks when no tokenizer is given. WordPiece-style tokenizers
// average about four characters per token on English prose, but give roughly one token per
// character for CJK scripts and symbols, so those count more.

/** Estimated cost of one UTF-16 code unit, in tokens. */
export function charCost(code: number): number {
  if (code < 0x80) return 0.25;
  // Low surrogates are the second half of a pair already counted by its high surrogate.
  if (code >= 0xdc00 && code <= 0xdfff) return 0;
  if (code >= 0x2e80) return 1;
  return 0.5;
}

export function estimateTokens(text: string): number {
  let cost = 0;
  for (let i = 0; i < text.length; i++) cost += charCost(text.charCodeAt(i));
  return Math.ceil(cost);
}

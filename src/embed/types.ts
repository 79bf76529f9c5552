/** Texts in, L2-normalised vectors out. One implementation per model family. */
export interface Embedder {
  /** Model id as configured or resolved, e.g. "Xenova/all-MiniLM-L6-v2" or "bundled". */
  readonly modelId: string;
  /**
   * Identity of the vectors this embedder produces (model id, revision, dtype, pooling).
   * The index stores it; a different fingerprint means re-embedding, never mixed vectors.
   */
  readonly fingerprint: string;
  readonly dims: number;
  /** Token window of the model; longer inputs are truncated. */
  readonly maxTokens: number;
  /**
   * True for order-free models (the bundled average of word vectors): every word of a query
   * counts, so the search drops filler words ("how do I") before embedding a question.
   */
  readonly bagOfWords: boolean;
  /** One Float32Array of length `dims` per text, unit length (a zero vector for empty input). */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Number of model tokens in `text` (for chunk sizing); cheap, no inference. */
  countTokens(text: string): number;
  dispose(): Promise<void>;
}

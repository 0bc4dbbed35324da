// One small per-isolate cache with a time to live and a size bound (the oldest entry goes first). It holds
// API-key lookups, the runners' variant list and the experiments read from D1; each says why its TTL.
export class TtlCache<K, V> {
  private entries = new Map<K, { at: number; value: V }>();

  constructor(
    private ttlMs: number,
    private max = 1000,
  ) {}

  get(key: K): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (Date.now() - hit.at < this.ttlMs) return hit.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: K, value: V): V {
    this.entries.delete(key); // re-inserted last, so Map order stays oldest first
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { at: Date.now(), value });
    return value;
  }

  /** The cached value, or `load()`'s (cached when it resolves). */
  async getOr(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.get(key);
    return hit !== undefined ? hit : this.set(key, await load());
  }

  clear() {
    this.entries.clear();
  }
}

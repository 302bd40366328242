/**
 * The object URLs a ServiceClient hands out for checkpoint files (`get_checkpoint_archive_url`),
 * kept so they are revoked once no longer needed: when their checkpoint is deleted
 * (`delete_checkpoint`, by id or path), and all of them when the ServiceClient closes. Until then
 * they stay valid, like Loops' presigned URLs until they expire; a caller done with them earlier
 * may revoke them itself (`URL.revokeObjectURL`), which is harmless twice.
 */
export class ObjectUrls {
  /** Checkpoint id and path → the URLs made for its files. */
  private readonly byCheckpoint = new Map<string, Set<string>>();

  /** An object URL for `blob`, recorded under each of `keys` (the checkpoint's id and path). */
  create(blob: Blob, keys: readonly string[]): string {
    const url = URL.createObjectURL(blob);
    for (const key of keys) {
      const set = this.byCheckpoint.get(key) ?? new Set<string>();
      set.add(url);
      this.byCheckpoint.set(key, set);
    }
    return url;
  }

  /** Revokes the URLs made for the checkpoint known by `key` (its id or its path). */
  revokeFor(key: string): void {
    const urls = this.byCheckpoint.get(key);
    if (!urls) return;
    for (const url of urls) URL.revokeObjectURL(url);
    for (const [k, set] of this.byCheckpoint) {
      for (const url of urls) set.delete(url);
      if (set.size === 0) this.byCheckpoint.delete(k);
    }
  }

  revokeAll(): void {
    const all = new Set([...this.byCheckpoint.values()].flatMap((s) => [...s]));
    for (const url of all) URL.revokeObjectURL(url);
    this.byCheckpoint.clear();
  }
}

/**
 * The summary row of a store: how many migrations are applied, and the digest of that history (each
 * migration's name and checksum chained with `nextDigest`). Two histories of the same length differ in
 * their digest.
 */
export interface StoreHead {
  readonly count: number;
  readonly digest: string;
}

/**
 * A bounded memo for a pure function of a string. In a large mesh every datagram repeats the same few
 * hundred keys and addresses: parsing each again costs more than the rest of the receive path. Inputs come
 * from the network, so at most `max` distinct ones are kept (all forgotten at once when full).
 *
 * `canonical(valid)` returns the first instance of each valid string (undefined for an invalid one): the
 * records that keep a validated key or address then share one copy of it, and later map lookups with it
 * find its hash already computed.
 */
export function memoize<T>(f: (s: string) => T, max = 16384): (s: string) => T {
  const seen = new Map<string, T>();
  return (s) => {
    const hit = seen.get(s);
    if (hit !== undefined || seen.has(s)) return hit as T;
    const v = f(s);
    if (seen.size >= max) seen.clear();
    seen.set(s, v);
    return v;
  };
}

export function canonical(valid: (s: string) => boolean, max = 16384): (s: string) => string | undefined {
  return memoize((s) => (valid(s) ? s : undefined), max);
}

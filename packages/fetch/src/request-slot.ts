/**
 * A value kept with a `Request` for as long as the request lives: a symbol-keyed property on it
 * (a WeakMap entry only for a request that takes no properties, a frozen one). Cheaper per
 * request than a WeakMap, whose entries the garbage collector has to trace as ephemerons.
 */
export class RequestSlot<T> {
  private readonly fallback = new WeakMap<Request, T>();

  constructor(private readonly key: symbol) {}

  get(request: Request): T | undefined {
    const own = (request as unknown as Record<symbol, T | undefined>)[this.key];
    return own === undefined ? this.fallback.get(request) : own;
  }

  set(request: Request, value: T): void {
    if (Object.isExtensible(request)) (request as unknown as Record<symbol, T>)[this.key] = value;
    else this.fallback.set(request, value);
  }
}

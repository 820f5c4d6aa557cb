// `koa2` is an npm alias of koa@2; it ships no types, and the calls these tests make are the
// same in Koa 2 and 3, as @types/koa (3) describes them.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}

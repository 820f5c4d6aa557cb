// `express4` is an npm alias of express@4; it ships no types, and its API is a subset of
// what @types/express (5) describes for the calls these tests make.
declare module 'express4' {
  import express from 'express';
  export default express;
}

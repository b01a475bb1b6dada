// The tests pick ports the way `npm run local` and the benchmarks do.
export { freePort } from '../../local/processes';

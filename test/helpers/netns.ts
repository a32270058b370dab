// The network namespaces the tests make are the benchmarks' too (`npm run bench -- reach`).
export { createNetns, type TestNetns } from '../../benchmarks/lib/netns.ts';

// The benchmarks' own (the cluster benchmark starts the same services).
export * from '../../benchmarks/lib/postgres.ts';

"""Side-by-side benchmarks: this package against the clients a user would otherwise pick.

`python -m benchmarks.run` (what `make bench` runs) executes every measurement module and writes
`benchmarks/RESULTS.md` and `benchmarks/results.json`; `--smoke` runs a tiny version of each in seconds.
One module per measurement: `overhead_inprocess` (non-streaming call overhead, no sockets),
`loopback_load` (sequential and concurrent calls against the local server), `streaming` (a
10,000-chunk answer), `import_time` (fresh interpreters) and `scale` (history conversion, stream memory).
`_common` holds the timing helpers, the result records and the one canned answer every contender gets.
`charts` draws each section's side-by-side ratios as a PNG in `benchmarks/charts/`, linked from RESULTS.md.
The peers measured here are benchmark-only dependencies; the package itself never imports them.
"""

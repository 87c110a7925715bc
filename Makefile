.PHONY: run test lint bench

run:  ## the service with embedded defaults
	scripts/serve

test:  ## lint, type-check and the whole test suite
	scripts/test

lint:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench:  ## benchmarks (not part of the test suite)
	.venv/bin/python -m bench.overhead --rounds 9
	.venv/bin/python -m bench.memory

# The two commands of kqual (make cycle, make test). Each first installs
# whatever is missing.
.PHONY: setup test unit cycle lint

setup:
	@bash .ci/setup

# Lint (ruff, mypy); the unit tier on a machine that lacks QEMU, the cross
# compiler and the kernel source (.ci/without-tools); then everything, where a
# missing tool fails rather than skips: the baseline built, booted and put
# through the workload, and every cycle (the size search on a budget of 3
# trials, and on two socket workers); then the cycle again on the AN386.
# Both on two xdist workers, as `pytest -n 2` is used: QEMU runs on one core,
# so boots, traces and censuses overlap the builds. The baseline's workload
# steps run in order on one machine, so they run on their own, serially.
test: setup
	python3 -m ruff check . && python3 -m ruff format --check . && python3 -m mypy
	bash .ci/without-tools python3 -m pytest -q tests test_trace_parser
	python3 -m pytest -n 2 -o kqual_require_tools=true --search-budget 3 -k "not test_workload_step"
	python3 -m pytest -o kqual_require_tools=true test_cycles/test_baseline.py -k test_workload_step
	python3 -m pytest -n 2 -o kqual_require_tools=true test_cycles -k syscall_prune --target an386

# The unit tier: parsers, analysers, settings and orchestration, on recorded
# output; tests that need QEMU, the cross compiler or the kernel source skip
# when those are missing.
unit: setup
	python3 -m pytest tests test_trace_parser

# The main job: qualify the syscall-prune cycle's candidates and select the
# smallest linux.axf that passes (results/mps2-an385/syscall_prune/summary.txt).
cycle: setup
	python3 -m pytest -k syscall_prune

lint: setup
	python3 -m ruff check . && python3 -m ruff format --check . && python3 -m mypy

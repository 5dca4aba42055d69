# The two commands of kqual. Each first installs whatever is missing.
.PHONY: setup test cycle lint

setup:
	@bash .ci/setup

# Lint (ruff, mypy), then unit tests, the baseline built, booted and put
# through the workload, and every cycle (the size search on a budget of 4
# trials, and on two socket workers); then the cycle again on the AN386.
test: setup
	python3 -m ruff check . && python3 -m ruff format --check . && python3 -m mypy
	python3 -m pytest --search-budget 4
	python3 -m pytest test_cycles -k syscall_prune --target an386

# The main job: qualify the syscall-prune cycle's candidates and select the
# smallest linux.axf that passes (results/mps2-an385/syscall_prune/summary.txt).
cycle: setup
	python3 -m pytest -k syscall_prune

lint: setup
	python3 -m ruff check . && python3 -m ruff format --check . && python3 -m mypy

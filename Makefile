# The two commands of kqual. Each first installs whatever is missing.
.PHONY: setup test cycle lint

setup:
	@bash .ci/setup

# Unit tests, then the baseline built, booted and put through the workload.
test: setup
	python3 -m pytest

# The main job: qualify every cycle under test_cycles/.
cycle: setup
	python3 -m pytest test_cycles

lint: setup
	python3 -m ruff check . && python3 -m ruff format --check .

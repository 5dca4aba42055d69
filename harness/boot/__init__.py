"""Step 3, boot: QEMU, its console, boot measurements, workload coverage."""

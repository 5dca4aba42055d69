"""Step 2, build: kernel source, config, userspace, initramfs, boot wrapper, a candidate."""

"""Facts of a kernel tree read once, in one place: its syscall table, its Kconfig
symbols and fragments, and the System.map of a link."""

//! Child supervision: spawn in a process group, forward signals, reap zombies.

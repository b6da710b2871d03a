"""Structured channels: the files a CLI writes beside its screen (transcripts, rollouts, usage
files), read by one reader per file here; tailer.py runs them for a watcher."""

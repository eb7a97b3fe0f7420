"""The command line: the only place that reads argv/env, prints, prompts or exits."""

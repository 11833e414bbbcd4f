"""Running student code: a warm zygote forks isolated, rate-limited workers.

Nothing in this package knows about pytest or the checks: it runs a function
of a submission's module in a worker and hands back what came of it.
"""

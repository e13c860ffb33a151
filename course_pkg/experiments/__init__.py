"""The book's experiments, one function each: the chapter cell and its claims test call the same code.

A chapter shows one run of an experiment; ``tests/claims/`` re-runs it over several seeds and checks the
conclusion the prose draws from it. One module per chapter (or pair of chapters), named after its topic.
"""

"""Energy-based models: p(x) = exp(-E(x)) / Z.

    partition.py   log Z of a binary RBM: exact by enumeration, annealed importance sampling with its error bar
    rbm.py         the RBM (registered as rbm): block Gibbs, CD-k and persistent CD
    langevin.py    Langevin dynamics on an energy and Du & Mordatch's replay buffer
    ebm.py         the deep EBM (registered as ebm): an MLP energy trained with Langevin negatives
"""

"""Neural-network modules, losses and optimizers built from autograd Values."""

"""Conv, transposed-conv, dense and BatchNorm layers with logical axis names on their kernels."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


def _kernel_names(ndim):
    return (None,) * (ndim - 2) + ("conv_in", "conv_out")


def _init(names):
    return nn.with_logical_partitioning(nn.initializers.lecun_normal(), names)


def _bias():
    return nn.with_logical_partitioning(nn.initializers.zeros, ("conv_out",))


def _valid(layer, x, features, kernel, strides, name):
    return layer(
        features,
        tuple(kernel),
        tuple(strides or kernel),
        padding="VALID",
        kernel_init=_init(_kernel_names(len(kernel) + 2)),
        bias_init=_bias(),
        name=name,
    )(x)


def conv(x, features, kernel, strides=None, name=None):
    """VALID conv; kernel and strides as tuples over the spatial axes (strides default = kernel)."""
    return _valid(nn.Conv, x, features, kernel, strides, name)


def tconv(x, features, kernel, strides=None, name=None):
    """VALID transposed conv, as `conv`."""
    return _valid(nn.ConvTranspose, x, features, kernel, strides, name)


def dense(x, features, name=None):
    return nn.Dense(features, kernel_init=_init(("conv_in", "conv_out")), bias_init=_bias(), name=name)(x)


def batch_norm(x, train, momentum, name=None):
    names = ("norm",)
    return nn.BatchNorm(
        use_running_average=not train,
        momentum=momentum,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones, names),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, names),
        name=name,
    )(x)


def lrelu(x):
    return nn.leaky_relu(x, 0.2)


def bn_relu(x, train, momentum, name=None):
    return jnp.maximum(batch_norm(x, train, momentum, name), 0)

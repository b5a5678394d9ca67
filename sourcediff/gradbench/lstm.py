"""GradBench's ``lstm`` eval (from ADBench): the loss of a stacked LSTM with diagonal weights
predicting each next character of a text, one bit a unit.

``main_params`` rows 2l and 2l+1 hold layer l's weights and biases, each row four blocks
(forget, input, output gates and the change), ``extra_params`` the input weights, output
weights and output biases, ``state`` rows 2l and 2l+1 layer l's hidden and cell values.
``jacobian`` is the gradient with respect to ``main_params`` and ``extra_params``, each
flattened by rows, concatenated.
"""
import math

import numpy as np

import sourcediff as sd


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def lstm_objective(main_params, extra_params, state, sequence):
    layers = main_params.shape[0] // 2
    chars = sequence.shape[0]
    b = sequence.shape[1]
    hidden_cell = np.copy(state)
    layer_input = np.empty(b)
    prediction = np.empty(b)
    total = 0.0
    for t in range(chars - 1):
        for i in range(b):
            layer_input[i] = sequence[t, i] * extra_params[0, i]
        for layer in range(layers):
            w = 2 * layer            # weights row, and the hidden state's row
            for i in range(b):
                forget = sigmoid(layer_input[i] * main_params[w, i] + main_params[w + 1, i])
                ingate = sigmoid(hidden_cell[w, i] * main_params[w, b + i] + main_params[w + 1, b + i])
                outgate = sigmoid(layer_input[i] * main_params[w, 2 * b + i]
                                  + main_params[w + 1, 2 * b + i])
                change = math.tanh(hidden_cell[w, i] * main_params[w, 3 * b + i]
                                   + main_params[w + 1, 3 * b + i])
                hidden_cell[w + 1, i] = hidden_cell[w + 1, i] * forget + ingate * change
                hidden_cell[w, i] = outgate * math.tanh(hidden_cell[w + 1, i])
            for i in range(b):
                layer_input[i] = hidden_cell[w, i]
        exp_sum = 2.0                # ADBench's log-sum-exp adds 2 to the sum
        for i in range(b):
            prediction[i] = layer_input[i] * extra_params[1, i] + extra_params[2, i]
            exp_sum += math.exp(prediction[i])
        normaliser = math.log(exp_sum)
        for i in range(b):
            total += sequence[t + 1, i] * (prediction[i] - normaliser)
    return -total / ((chars - 1) * b)


lstm_gradient = sd.grad(lstm_objective, argnums=(0, 1))


def jacobian(*args):
    main, extra = lstm_gradient(*args)
    return np.concatenate((main.ravel(), extra.ravel()))


def prepare(input):
    return tuple(np.asarray(input[name], dtype=np.float64)
                 for name in ("main_params", "extra_params", "state", "sequence"))


FUNCTIONS = {"objective": sd.jit(lstm_objective), "jacobian": jacobian}

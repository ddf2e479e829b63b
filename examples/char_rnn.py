"""Seed 003's character-level RNN language model, trained on a short story bundled with the
examples (`data/lighthouse.txt`, written for this project), then sampled.

The model is the seed's: the input projection `x_w_xh` is computed for the whole sequence at
once, and `scan` runs `step(x_w_xh, previous, w_hh)` with `outputs_info=[init_state, None]`
and `non_sequences=[w_hh]`; `w_o` and `b_o` are read from the enclosing scope.  Training
feeds the text in chunks of `seq_length` characters, carrying the hidden state from chunk to
chunk, with Adagrad.  Sampling is a second `scan` that draws each next character from the
model's softmax with a random stream inside the step.

Run `python examples/char_rnn.py`: the smoothed training loss goes down, then a few sampled
lines are printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import theanine as theano
import theanine.tensor as T
from theanine.tensor.random import RandomStreams

TEXT = Path(__file__).resolve().parent / "data" / "lighthouse.txt"


def floatX(x):
    return np.asarray(x, dtype=theano.config.floatX)


def init_weights(rng, shape, scale=0.1):
    return theano.shared(floatX(rng.standard_normal(shape) * scale))


def adagrad(cost, params, lr=0.1, epsilon=1e-8):
    updates = []
    for p, g in zip(params, T.grad(cost, params)):
        g = T.clip(g, -5.0, 5.0)
        memory = theano.shared(p.get_value() * 0.0)
        new_memory = memory + g**2
        updates.append((memory, new_memory))
        updates.append((p, p - lr * g / T.sqrt(new_memory + epsilon)))
    return updates


def main(iterations=3000, hidden=64, seq_length=25, sample_length=200, seed=0, verbose=True):
    """Train, print progress, and return (smoothed loss every 100 iterations, sampled text)."""
    rng = np.random.default_rng(seed)
    text = TEXT.read_text()
    chars = sorted(set(text))
    vocab = len(chars)
    index = np.array([chars.index(c) for c in text])
    one_hot = floatX(np.eye(vocab))

    w_xh = init_weights(rng, (vocab, hidden))
    w_hh = init_weights(rng, (hidden, hidden))
    b_h = theano.shared(floatX(np.zeros(hidden)))
    w_o = init_weights(rng, (hidden, vocab))
    b_o = theano.shared(floatX(np.zeros(vocab)))
    params = [w_xh, w_hh, b_h, w_o, b_o]

    def step(x_w_xh, previous, w_hh):
        hidden = T.tanh(T.dot(previous, w_hh) + x_w_xh)
        output = T.nnet.softmax(T.dot(hidden, w_o) + b_o)
        return [hidden, output]

    def model(X, init_state, w_xh, w_hh, b_h, w_o, b_o):
        x_w_xh = T.dot(X, w_xh) + b_h
        [hidden, output], _ = theano.scan(step, sequences=[x_w_xh],
                                          outputs_info=[init_state, None],
                                          non_sequences=[w_hh])
        # Theano's softmax of a vector is a 1 x vocab row: one row per step
        return hidden, output.reshape((output.shape[0], output.shape[2]))

    X = T.matrix("X")
    Y = T.ivector("Y")
    init_state = T.vector("init_state")
    hidden_states, output = model(X, init_state, *params)
    cost = T.mean(T.nnet.categorical_crossentropy(output, Y))
    train = theano.function([X, init_state, Y], [cost, hidden_states[-1]],
                            updates=adagrad(cost, params))

    # Sampling: feed each drawn character back in as the next input.
    srng = RandomStreams(seed)
    n_chars = T.iscalar("n_chars")
    first = T.vector("first")

    def sample_step(x, previous, w_hh):
        hidden, output = step(T.dot(x, w_xh) + b_h, previous, w_hh)
        drawn = srng.multinomial(n=1, pvals=output, dtype=theano.config.floatX)
        return [drawn[0], hidden]

    [drawn, _], sample_updates = theano.scan(sample_step, outputs_info=[first, init_state],
                                             non_sequences=[w_hh], n_steps=n_chars)
    sample = theano.function([first, init_state, n_chars], T.argmax(drawn, axis=1),
                             updates=sample_updates)

    smooth = float(np.log(vocab))
    history = []
    h = floatX(np.zeros(hidden))
    position = 0
    for iteration in range(1, iterations + 1):
        if position + seq_length + 1 > len(index):
            position, h = 0, floatX(np.zeros(hidden))
        chunk = index[position:position + seq_length + 1]
        loss, h = train(one_hot[chunk[:-1]], h, chunk[1:].astype("int32"))
        smooth = 0.99 * smooth + 0.01 * float(loss)
        position += seq_length
        if iteration % 100 == 0:
            history.append(smooth)
            if verbose:
                print(f"iteration {iteration}: loss {smooth:.3f}")

    start = chars.index("T")
    drawn_chars = sample(one_hot[start], floatX(np.zeros(hidden)), sample_length)
    generated = chars[start] + "".join(chars[i] for i in drawn_chars)
    if verbose:
        print("----\n" + generated + "\n----")
    return history, generated


if __name__ == "__main__":
    main()

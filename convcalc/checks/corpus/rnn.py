"""Corpus kind ``rnn``: ``nn.SimpleRNN``, ``nn.LSTM`` and ``nn.GRU``, one or more layers, one or both directions.

Each runs as one fused ``rnn`` op and is one row (its cells are built but
never called); shapes and parameters must be exact.  FLOPs of RNNs are
another issue's (their rows may say "no rule").
"""

from __future__ import annotations

from paddle import nn

from convcalc.checks.corpus import Case


class RNNRegressor(nn.Layer):
    """One SimpleRNN layer over [N, L, 8], the last step to a number."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.SimpleRNN(8, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        y, h = self.rnn(x)
        return self.out(y[:, -1])


class StackedLSTM(nn.Layer):
    """Two LSTM layers; the final hidden state of the top layer to 3 classes."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=12, hidden_size=24, num_layers=2)
        self.fc = nn.Linear(24, 3)

    def forward(self, x):
        _, (h, c) = self.lstm(x)
        return self.fc(h[-1])


class BiGRUTagger(nn.Layer):
    """Token ids -> embedding -> bidirectional GRU -> a tag per token."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(300, 16)
        self.gru = nn.GRU(16, 20, direction="bidirect")
        self.tag = nn.Linear(40, 5)

    def forward(self, ids):
        y, _ = self.gru(self.embed(ids))
        return self.tag(y)


class DeepBiLSTM(nn.Layer):
    """Three bidirectional LSTM layers with dropout between them (eval: no dropout)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 16, num_layers=3, direction="bidirectional", dropout=0.1)
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y.mean(axis=1))


class TwoRNNs(nn.Layer):
    """A GRU encoder feeding a SimpleRNN with tanh replaced by relu."""

    def __init__(self):
        super().__init__()
        self.enc = nn.GRU(6, 12, num_layers=2)
        self.dec = nn.SimpleRNN(12, 8, activation="relu")

    def forward(self, x):
        y, _ = self.enc(x)
        z, _ = self.dec(y)
        return z


CASES = [
    Case("simple_rnn", "rnn", RNNRegressor, (((2, 7, 8), "float32"),), cli=("7x8",), batch=2),
    Case("stacked_lstm", "rnn", StackedLSTM, (((1, 9, 12), "float32"),), cli=("9x12",)),
    Case("bigru_tagger", "rnn", BiGRUTagger, (((2, 11), "int64"),), cli=("11:int64",), batch=2),
    Case("deep_bilstm", "rnn", DeepBiLSTM, (((3, 5, 10), "float32"),), cli=("5x10",), batch=3),
    Case("gru_into_simple_rnn", "rnn", TwoRNNs, (((1, 6, 6), "float32"),), cli=("6x6",)),
]

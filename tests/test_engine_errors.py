"""Bad input: every public entry point raises ValueError or TypeError whose message names both the
expected and the actual value. The whole message is compared, so a vaguer message fails the test."""

from __future__ import annotations

import numpy as np
import pytest

import deeprnn as dr
from deeprnn.numpy_engine import fused
from deeprnn.numpy_engine import (
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)


def f32(*shape):
    return np.zeros(shape, np.float32)


def f64(*shape):
    return np.zeros(shape, np.float64)


def cell_params(cell, I=3, H=4, **changes):
    """A float32 params dict with torch.nn.*Cell names for the pure step functions, with changes
    (None drops a key)."""
    p = {k: v for k, v in cell(I, H).state_dict().items()}
    p.update(changes)
    return {k: v for k, v in p.items() if v is not None}


def proj_params(P=2, **changes):
    p = cell_params(dr.LSTMCell, weight_hh=f32(16, P), weight_hr=f32(P, 4))
    p.update(changes)
    return p


def after_forward(model, *args):
    """The model after one forward with ``args``: for backward() checks."""
    model(*args)
    return model


def rnn_state_dict(**changes):
    sd = dr.RNN(3, 4).state_dict()
    sd.update(changes)
    return {k: v for k, v in sd.items() if v is not None}


# (callable, exception type, the whole message)
CASES = {
    # ---- constructors
    "input_size_float": (lambda: dr.LSTM(28.0, 4), TypeError, "expected input_size to be an int, got float 28.0"),
    "hidden_size_str": (lambda: dr.GRU(3, "4"), TypeError, "expected hidden_size to be an int, got str '4'"),
    "hidden_size_0": (lambda: dr.GRU(3, 0), ValueError, "expected hidden_size >= 1, got 0"),
    "num_layers_bool": (lambda: dr.GRU(3, 4, num_layers=True), TypeError,
                        "expected num_layers to be an int, got bool True"),
    "num_layers_0": (lambda: dr.RNN(3, 4, num_layers=0), ValueError, "expected num_layers >= 1, got 0"),
    "nonlinearity": (lambda: dr.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
                     "expected nonlinearity to be one of 'tanh', 'relu', got 'sigmoid'"),
    "dropout_above_1": (lambda: dr.LSTM(3, 4, num_layers=2, dropout=1.5), ValueError,
                        "expected dropout to be a number in [0, 1], got 1.5"),
    "dropout_negative": (lambda: dr.LSTM(3, 4, num_layers=2, dropout=-0.1), ValueError,
                         "expected dropout to be a number in [0, 1], got -0.1"),
    "dropout_str": (lambda: dr.GRU(3, 4, num_layers=2, dropout="0.5"), ValueError,
                    "expected dropout to be a number in [0, 1], got '0.5'"),
    "dropout_bool": (lambda: dr.GRU(3, 4, num_layers=2, dropout=True), ValueError,
                     "expected dropout to be a number in [0, 1], got True"),
    "proj_size_equal_hidden": (lambda: dr.LSTM(3, 4, proj_size=4), ValueError,
                               "expected proj_size < hidden_size = 4, got 4"),
    "proj_size_above_hidden": (lambda: dr.LSTM(3, 4, proj_size=9), ValueError,
                               "expected proj_size < hidden_size = 4, got 9"),
    "proj_size_negative": (lambda: dr.LSTM(3, 4, proj_size=-1), ValueError, "expected proj_size >= 0, got -1"),
    "dtype_float16": (lambda: dr.RNN(3, 4, dtype=np.float16), TypeError,
                      "expected dtype to be float32 or float64, got float16"),
    "dtype_nonsense": (lambda: dr.RNN(3, 4, dtype="banana"), TypeError,
                       "expected dtype to be float32 or float64, got 'banana'"),
    "bias_str": (lambda: dr.RNN(3, 4, bias="yes"), TypeError, "expected bias to be a bool, got str 'yes'"),
    "batch_first_int": (lambda: dr.GRU(3, 4, batch_first=1), TypeError,
                        "expected batch_first to be a bool, got int 1"),
    "bidirectional_none": (lambda: dr.LSTM(3, 4, bidirectional=None), TypeError,
                           "expected bidirectional to be a bool, got NoneType None"),
    "seed_negative": (lambda: dr.RNN(3, 4, seed=-1), ValueError, "expected seed >= 0, got -1"),
    "seed_float": (lambda: dr.RNN(3, 4, seed=1.5), TypeError, "expected seed to be an int, got float 1.5"),
    "cell_input_size": (lambda: dr.GRUCell(3.5, 4), TypeError, "expected input_size to be an int, got float 3.5"),
    "cell_hidden_size": (lambda: dr.LSTMCell(3, -2), ValueError, "expected hidden_size >= 1, got -2"),
    "cell_nonlinearity": (lambda: dr.RNNCell(3, 4, nonlinearity="gelu"), ValueError,
                          "expected nonlinearity to be one of 'tanh', 'relu', got 'gelu'"),
    "cell_dtype": (lambda: dr.LSTMCell(3, 4, dtype=np.int32), TypeError,
                   "expected dtype to be float32 or float64, got int32"),
    "cell_bias": (lambda: dr.GRUCell(3, 4, bias=None), TypeError, "expected bias to be a bool, got NoneType None"),
    "train_mode": (lambda: dr.RNN(3, 4).train("yes"), TypeError, "expected mode to be a bool, got str 'yes'"),
    "set_num_threads": (lambda: dr.set_num_threads(0), ValueError, "expected n >= 1, got 0"),
    # ---- x
    "x_shape": (lambda: dr.LSTM(28, 4)(f32(35, 2, 27)), ValueError,
                "expected x of shape (T, B, 28) or (T, 28), got (35, 2, 27)"),
    "x_shape_batch_first": (lambda: dr.GRU(28, 4, batch_first=True)(f32(2, 35, 27)), ValueError,
                            "expected x of shape (B, T, 28) or (T, 28), got (2, 35, 27)"),
    "x_4d": (lambda: dr.RNN(3, 4)(f32(1, 2, 2, 3)), ValueError,
             "expected x of shape (T, B, 3) or (T, 3), got (1, 2, 2, 3)"),
    "x_1d": (lambda: dr.RNN(3, 4)(f32(3)), ValueError, "expected x of shape (T, B, 3) or (T, 3), got (3,)"),
    "x_no_steps": (lambda: dr.LSTM(3, 4)(f32(0, 2, 3)), ValueError,
                   "expected x of shape (T, B, 3) or (T, 3), got (0, 2, 3) (T must be at least 1)"),
    "x_no_steps_unbatched": (lambda: dr.RNN(3, 4)(f32(0, 3)), ValueError,
                             "expected x of shape (T, B, 3) or (T, 3), got (0, 3) (T must be at least 1)"),
    "x_no_steps_batch_first": (lambda: dr.GRU(3, 4, batch_first=True)(f32(2, 0, 3)), ValueError,
                               "expected x of shape (B, T, 3) or (T, 3), got (2, 0, 3) (T must be at least 1)"),
    "x_float64_into_float32": (lambda: dr.RNN(3, 4)(f64(2, 2, 3)), TypeError,
                               "expected x of dtype float32 (the model's dtype), got float64"),
    "x_int": (lambda: dr.GRU(3, 4, dtype=np.float64)(np.zeros((2, 2, 3), np.int64)), TypeError,
              "expected x of dtype float64 (the model's dtype), got int64"),
    "x_list": (lambda: dr.RNN(3, 4)([[0.0] * 3]), TypeError, "expected x to be a numpy.ndarray, got list"),
    # ---- initial states
    "h0_layers": (lambda: dr.GRU(3, 4, num_layers=2)(f32(5, 2, 3), f32(1, 2, 4)), ValueError,
                  "expected hx of shape (2, 2, 4), got (1, 2, 4)"),
    "h0_directions": (lambda: dr.RNN(3, 4, bidirectional=True)(f32(5, 2, 3), f32(1, 2, 4)), ValueError,
                      "expected hx of shape (2, 2, 4), got (1, 2, 4)"),
    "h0_batch": (lambda: dr.GRU(3, 4, batch_first=True)(f32(3, 5, 3), f32(1, 5, 4)), ValueError,
                 "expected hx of shape (1, 3, 4), got (1, 5, 4)"),
    "h0_batched_with_unbatched_x": (lambda: dr.RNN(3, 4)(f32(5, 3), f32(1, 1, 4)), ValueError,
                                    "expected hx of shape (1, 4), got (1, 1, 4)"),
    "h0_dtype": (lambda: dr.RNN(3, 4)(f32(5, 2, 3), f64(1, 2, 4)), TypeError,
                 "expected hx of dtype float32 (the model's dtype), got float64"),
    "h0_tuple_for_gru": (lambda: dr.GRU(3, 4)(f32(5, 2, 3), (f32(1, 2, 4),)), TypeError,
                         "expected hx to be a numpy.ndarray, got tuple"),
    "lstm_hx_array": (lambda: dr.LSTM(3, 4)(f32(5, 2, 3), f32(1, 2, 4)), TypeError,
                      "expected hx to be a tuple (h, c) for LSTM, got ndarray"),
    "lstm_hx_three": (lambda: dr.LSTM(3, 4)(f32(5, 2, 3), (f32(1, 2, 4),) * 3), TypeError,
                      "expected hx to be a tuple (h, c) for LSTM, got tuple of length 3"),
    "lstm_c0_shape": (lambda: dr.LSTM(3, 4)(f32(5, 2, 3), (f32(1, 2, 4), f32(1, 2, 3))), ValueError,
                      "expected hx[c] of shape (1, 2, 4), got (1, 2, 3)"),
    "lstm_h0_with_projection": (lambda: dr.LSTM(3, 4, proj_size=2)(f32(5, 2, 3), (f32(1, 2, 4), f32(1, 2, 4))),
                                ValueError, "expected hx[h] of shape (1, 2, 2), got (1, 2, 4)"),
    # ---- lengths
    "lengths_float": (lambda: dr.RNN(3, 4)(f32(5, 2, 3), lengths=[2.0, 3.0]), TypeError,
                      "expected lengths to be integers, got dtype float64"),
    "lengths_count": (lambda: dr.LSTM(3, 4)(f32(5, 2, 3), lengths=[2, 3, 1]), ValueError,
                      "expected lengths of shape (2,) (one per sequence), got (3,)"),
    "lengths_scalar": (lambda: dr.GRU(3, 4)(f32(5, 2, 3), lengths=5), ValueError,
                       "expected lengths of shape (2,) (one per sequence), got ()"),
    "lengths_zero": (lambda: dr.GRU(3, 4)(f32(5, 2, 3), lengths=[0, 3]), ValueError,
                     "expected every length in [1, 5] (T = 5), got 0"),
    "lengths_above_T": (lambda: dr.RNN(3, 4)(f32(5, 2, 3), lengths=[2, 6]), ValueError,
                        "expected every length in [1, 5] (T = 5), got 6"),
    "lengths_unbatched": (lambda: dr.RNN(3, 4)(f32(5, 3), lengths=[5]), ValueError,
                          "expected lengths only with batched input (T, B, I), got unbatched (T, I)"),
    # ---- backward
    "backward_without_forward": (lambda: dr.GRU(3, 4).backward(f32(5, 2, 4)), ValueError,
                                 "expected a forward() (with gradients enabled) before backward(), got none "
                                 "since the last backward()"),
    "d_out_shape": (lambda: after_forward(dr.GRU(3, 4, bidirectional=True), f32(5, 2, 3)).backward(f32(5, 2, 4)),
                    ValueError, "expected d_out of shape (5, 2, 8), got (5, 2, 4)"),
    "d_out_batch_first": (lambda: after_forward(dr.RNN(3, 4, batch_first=True), f32(2, 5, 3)).backward(f32(5, 2, 4)),
                          ValueError, "expected d_out of shape (2, 5, 4), got (5, 2, 4)"),
    "d_out_unbatched": (lambda: after_forward(dr.LSTM(3, 4), f32(5, 3)).backward(f32(5, 1, 4)), ValueError,
                        "expected d_out of shape (5, 4), got (5, 1, 4)"),
    "d_out_projection": (lambda: after_forward(dr.LSTM(3, 4, proj_size=2), f32(5, 2, 3)).backward(f32(5, 2, 4)),
                         ValueError, "expected d_out of shape (5, 2, 2), got (5, 2, 4)"),
    "d_out_dtype": (lambda: after_forward(dr.GRU(3, 4), f32(5, 2, 3)).backward(f64(5, 2, 4)), TypeError,
                    "expected d_out of dtype float32 (the model's dtype), got float64"),
    "dhx_shape": (lambda: after_forward(dr.GRU(3, 4), f32(5, 2, 3)).backward(f32(5, 2, 4), f32(2, 2, 4)),
                  ValueError, "expected dhx of shape (1, 2, 4), got (2, 2, 4)"),
    "lstm_dhx_array": (lambda: after_forward(dr.LSTM(3, 4), f32(5, 2, 3)).backward(f32(5, 2, 4), f32(1, 2, 4)),
                       TypeError, "expected dhx to be a tuple (h, c) for LSTM, got ndarray"),
    # ---- state dicts
    "state_dict_not_a_dict": (lambda: dr.RNN(3, 4).load_state_dict([1]), TypeError,
                              "expected state_dict to be a dict, got list"),
    "state_dict_keys": (lambda: dr.RNN(3, 4).load_state_dict(rnn_state_dict(bias_hh_l0=None, bias_hh_l9=f32(4))),
                        ValueError, "expected state_dict keys ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', "
                        "'bias_hh_l0'], got missing ['bias_hh_l0'] and unexpected ['bias_hh_l9']"),
    "state_dict_missing": (lambda: dr.RNN(3, 4).load_state_dict(rnn_state_dict(bias_ih_l0=None)), ValueError,
                           "expected state_dict keys ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'], "
                           "got missing ['bias_ih_l0']"),
    "state_dict_shape": (lambda: dr.RNN(3, 4).load_state_dict(rnn_state_dict(weight_hh_l0=f32(4, 3))), ValueError,
                         "expected weight_hh_l0 of shape (4, 4), got (4, 3)"),
    "state_dict_strings": (lambda: dr.RNN(3, 4).load_state_dict(rnn_state_dict(bias_ih_l0=np.array(["a"] * 4))),
                           TypeError, "expected bias_ih_l0 to hold floating-point numbers, got dtype <U1"),
    "state_dict_int64": (lambda: dr.RNN(3, 4).load_state_dict(rnn_state_dict(bias_ih_l0=np.arange(4))), TypeError,
                         "expected bias_ih_l0 to hold floating-point numbers, got dtype int64 (not cast silently: "
                         "convert it first, e.g. with .astype(np.float32))"),
    "initial_state_dict_int64": (lambda: dr.RNN(3, 4, state_dict=rnn_state_dict(weight_hh_l0=np.ones((4, 4), int))),
                                 TypeError, "expected weight_hh_l0 to hold floating-point numbers, got dtype int64 "
                                 "(not cast silently: convert it first, e.g. with .astype(np.float32))"),
    "cell_state_dict_of_a_layer": (lambda: dr.RNNCell(3, 4).load_state_dict(dr.RNN(3, 4, bias=False).state_dict()),
                                   ValueError, "expected state_dict keys ['weight_ih', 'weight_hh', 'bias_ih', "
                                   "'bias_hh'], got missing ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] and "
                                   "unexpected ['weight_ih_l0', 'weight_hh_l0']"),
    # ---- cells
    "cell_x_shape": (lambda: dr.GRUCell(3, 4)(f32(2, 4)), ValueError, "expected x of shape (B, 3) or (3,), got (2, 4)"),
    "cell_x_3d": (lambda: dr.GRUCell(3, 4)(f32(1, 2, 3)), ValueError,
                  "expected x of shape (B, 3) or (3,), got (1, 2, 3)"),
    "cell_x_dtype": (lambda: dr.RNNCell(3, 4)(f64(2, 3)), TypeError,
                     "expected x of dtype float32 (the model's dtype), got float64"),
    "cell_x_list": (lambda: dr.LSTMCell(3, 4)([0.0, 0.0, 0.0]), TypeError,
                    "expected x to be a numpy.ndarray, got list"),
    "cell_h_shape": (lambda: dr.RNNCell(3, 4)(f32(2, 3), f32(2, 5)), ValueError,
                     "expected hx of shape (2, 4), got (2, 5)"),
    "cell_h_batched_with_unbatched_x": (lambda: dr.GRUCell(3, 4)(f32(3), f32(1, 4)), ValueError,
                                        "expected hx of shape (4,), got (1, 4)"),
    "lstm_cell_hx_array": (lambda: dr.LSTMCell(3, 4)(f32(2, 3), f32(2, 4)), TypeError,
                           "expected hx to be a tuple (h, c), got ndarray"),
    "lstm_cell_hx_one": (lambda: dr.LSTMCell(3, 4)(f32(2, 3), [f32(2, 4)]), TypeError,
                         "expected hx to be a tuple (h, c), got list of length 1"),
    "lstm_cell_c_shape": (lambda: dr.LSTMCell(3, 4)(f32(2, 3), (f32(2, 4), f32(3, 4))), ValueError,
                          "expected hx[c] of shape (2, 4), got (3, 4)"),
    "cell_backward_without_forward": (lambda: dr.LSTMCell(3, 4).backward(f32(2, 4)), ValueError,
                                      "expected a forward() not yet backpropagated before backward(), got none"),
    "cell_dh_shape": (lambda: after_forward(dr.RNNCell(3, 4), f32(2, 3)).backward(f32(4)), ValueError,
                      "expected dh of shape (2, 4), got (4,)"),
    "cell_dh_unbatched": (lambda: after_forward(dr.GRUCell(3, 4), f32(3)).backward(f32(1, 4)), ValueError,
                          "expected dh of shape (4,), got (1, 4)"),
    "cell_dc_shape": (lambda: after_forward(dr.LSTMCell(3, 4), f32(2, 3)).backward(f32(2, 4), f32(2, 5)),
                      ValueError, "expected dc of shape (2, 4), got (2, 5)"),
    "cell_dh_list": (lambda: after_forward(dr.LSTMCell(3, 4), f32(2, 3)).backward([0.0]), TypeError,
                     "expected dh to be a numpy.ndarray, got list"),
    "fused_set_enabled_str": (lambda: fused.set_enabled("no"), TypeError, "expected flag to be a bool, got str 'no'"),
    # ---- pure step functions
    "step_params_list": (lambda: rnn_step_forward(f32(2, 3), f32(2, 4), [f32(4, 3)]), TypeError,
                         "expected params to be a dict of arrays, got list"),
    "step_params_missing_key": (lambda: gru_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.GRUCell, weight_hh=None)),
                                ValueError, "expected params with keys weight_ih, weight_hh, optional bias_ih and "
                                "bias_hh, got ['bias_hh', 'bias_ih', 'weight_ih']"),
    "step_params_hr_on_gru": (lambda: gru_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.GRUCell, weight_hr=f32(4, 4))),
                              ValueError, "expected params with keys weight_ih, weight_hh, optional bias_ih and "
                              "bias_hh, got ['bias_hh', 'bias_ih', 'weight_hh', 'weight_hr', 'weight_ih']"),
    "step_one_bias": (lambda: rnn_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.RNNCell, bias_hh=None)),
                      ValueError, "expected both bias_ih and bias_hh or neither, got only bias_ih"),
    "step_w_ih_not_gates": (lambda: lstm_step_forward(f32(2, 3), f32(2, 4), f32(2, 4),
                                                      cell_params(dr.LSTMCell, weight_ih=f32(15, 3))),
                            ValueError, "expected weight_ih of shape (G, I) with G = 4H, got (15, 3)"),
    "step_w_ih_int": (lambda: rnn_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.RNNCell, weight_ih=np.zeros((4, 3), int))),
                      TypeError, "expected weight_ih's dtype to be float32 or float64, got int64"),
    "step_w_hh_shape": (lambda: gru_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.GRUCell, weight_hh=f32(12, 3))),
                        ValueError, "expected weight_hh of shape (12, 4), got (12, 3)"),
    "step_bias_shape": (lambda: gru_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.GRUCell, bias_ih=f32(1, 12))),
                        ValueError, "expected bias_ih of shape (12,), got (1, 12)"),
    "step_w_hr_shape": (lambda: lstm_step_forward(f32(2, 3), f32(2, 2), f32(2, 4), proj_params(weight_hr=f32(2, 5))),
                        ValueError, "expected weight_hr of shape (2, 4), got (2, 5)"),
    "step_x_shape": (lambda: rnn_step_forward(f32(2, 5), f32(2, 4), cell_params(dr.RNNCell)), ValueError,
                     "expected x of shape (B, 3), got (2, 5)"),
    "step_x_dtype": (lambda: lstm_step_forward(f64(2, 3), f32(2, 4), f32(2, 4), cell_params(dr.LSTMCell)), TypeError,
                     "expected x of dtype float32 (weight_ih's dtype), got float64"),
    "step_h_batch": (lambda: gru_step_forward(f32(2, 3), f32(3, 4), cell_params(dr.GRUCell)), ValueError,
                     "expected h of shape (2, 4), got (3, 4)"),
    "step_h_not_projected": (lambda: lstm_step_forward(f32(2, 3), f32(2, 4), f32(2, 4), proj_params()), ValueError,
                             "expected h of shape (2, 2), got (2, 4)"),
    "step_c_shape": (lambda: lstm_step_forward(f32(2, 3), f32(2, 4), f32(2, 2), cell_params(dr.LSTMCell)), ValueError,
                     "expected c of shape (2, 4), got (2, 2)"),
    "step_nonlinearity": (lambda: rnn_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.RNNCell), "sigmoid"), ValueError,
                          "expected nonlinearity to be one of 'tanh', 'relu', got 'sigmoid'"),
    "step_backward_cache": (lambda: lstm_step_backward(f32(2, 4), f32(2, 4), (f32(2, 3),)), TypeError,
                            "expected cache to be the LSTMStepCache returned by lstm_step_forward, got tuple"),
    "step_backward_wrong_cache": (lambda: gru_step_backward(f32(2, 4), rnn_step_forward(f32(2, 3), f32(2, 4),
                                                                                          cell_params(dr.RNNCell))[1]),
                                  TypeError, "expected cache to be the GRUStepCache returned by gru_step_forward, "
                                  "got RNNStepCache"),
    "step_dh_shape": (lambda: rnn_step_backward(f32(4), rnn_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.RNNCell))[1]),
                      ValueError, "expected dh of shape (2, 4), got (4,)"),
    "step_dh_dtype": (lambda: gru_step_backward(f64(2, 4), gru_step_forward(f32(2, 3), f32(2, 4), cell_params(dr.GRUCell))[1]),
                      TypeError, "expected dh of dtype float32 (the forward step's dtype), got float64"),
    "step_dc_shape": (lambda: lstm_step_backward(f32(2, 4), f32(2, 3),
                                                 lstm_step_forward(f32(2, 3), f32(2, 4), f32(2, 4), cell_params(dr.LSTMCell))[2]),
                      ValueError, "expected dc of shape (2, 4), got (2, 3)"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_rejected_with_expected_and_actual(name):
    call, exc, message = CASES[name]
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc
    assert str(info.value) == message


def test_rejected_backward_keeps_the_cache():
    """A backward with a bad d_out raises before consuming the forward's cache: a correct retry works."""
    model = after_forward(dr.LSTM(3, 4), f32(5, 2, 3))
    with pytest.raises(ValueError, match="expected d_out"):
        model.backward(f32(5, 2, 3))
    dx, (dh0, dc0) = model.backward(np.ones((5, 2, 4), np.float32))
    assert dx.shape == (5, 2, 3) and dh0.shape == dc0.shape == (1, 2, 4)
    cell = after_forward(dr.GRUCell(3, 4), f32(2, 3))
    with pytest.raises(ValueError, match="expected dh"):
        cell.backward(f32(2, 3))
    assert cell.backward(np.ones((2, 4), np.float32))[0].shape == (2, 3)


def test_rejected_forward_keeps_the_previous_cache():
    model = after_forward(dr.GRU(3, 4), f32(5, 2, 3))
    with pytest.raises(ValueError, match="expected x"):
        model(f32(5, 2, 2))
    assert model.backward(np.ones((5, 2, 4), np.float32))[0].shape == (5, 2, 3)

"""The click model: training and evaluation by user, its gate, figures, ONNX export and the browser bundle."""

"""Using a trained model: predict on new inputs, evaluate it in depth, export it (ONNX, torch.export)."""

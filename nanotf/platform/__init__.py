"""TensorFlow 1.x's platform layer: command-line flags, tf.app.run, tf.gfile and tf.logging.

Everything here is plain standard library, so that `import nanotf` stays fast. The public
namespaces are the packages nanotf.app, nanotf.flags, nanotf.gfile and nanotf.logging.
"""

"""tensorflow.python.ops paths used directly by TF 1.x programs: `resources`."""

"""Built-in datasets. Each module composes engine pieces; see ``generator.dataset.Dataset``."""

"""Feature engineering: trip features, windowed zip features, contracts, point-in-time joins."""

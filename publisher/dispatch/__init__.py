"""Sending what is due: claims under a lease, workers per platform, quotas, holds, retries."""

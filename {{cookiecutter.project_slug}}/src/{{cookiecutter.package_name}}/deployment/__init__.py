"""Deployment: promote the challenger to champion, roll back to the previous champion."""

"""The deployment guard's libraries: AI-content labels (a visible mark, the GB 45438-2025 implicit label in file
metadata, a C2PA manifest) and the green-list watermark for generated text."""

"""TikTok's dialect: the only code that talks to TikTok.

``http`` holds the connection pool (the only httpx2 import), ``answers`` reads TikTok's answer
shapes, ``provider`` speaks TikTok's OAuth and API through one Authlib client.
"""

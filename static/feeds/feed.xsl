<?xml version="1.0" encoding="utf-8"?>
<!--
  A feed opened in a browser: a page that says what a feed is and how to follow it, with the
  feed's items readable. Feed readers ignore this; browsers apply it through the
  xml-stylesheet processing instruction at the top of each RSS and Atom feed.
  The items' HTML was sanitised when the issue was published (portal/markdown.py).
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>

  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:variable name="site" select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <link rel="stylesheet" href="/static/feeds/feed.css"/>
      </head>
      <body>
        <main class="feed-page">
          <aside class="feed-about" aria-labelledby="about-title">
            <h2 id="about-title">This is a feed</h2>
            <p>A feed lets a feed reader (such as NetNewsWire, Feedly, Thunderbird or Inoreader) tell you when something new is published here, without email or an account.</p>
            <p>To follow it, copy this page's address from the address bar and add it to your feed reader. The page you see is what the feed holds today; your reader keeps it up to date.</p>
            <p><a href="{$site}">Go to the site</a></p>
          </aside>
          <h1><xsl:value-of select="$title"/></h1>
          <p class="feed-subtitle"><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
          <xsl:if test="not(/rss/channel/item | /atom:feed/atom:entry)">
            <p>Nothing is published yet.</p>
          </xsl:if>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <article class="feed-item">
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="feed-date"><xsl:value-of select="substring(pubDate, 1, 16)"/></p>
      <div class="feed-body"><xsl:value-of select="description" disable-output-escaping="yes"/></div>
    </article>
  </xsl:template>

  <xsl:template match="atom:entry">
    <article class="feed-item">
      <h2><a href="{atom:link[@rel='alternate']/@href | atom:link[not(@rel)]/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="feed-date"><xsl:value-of select="substring(atom:published | atom:updated, 1, 10)"/></p>
      <div class="feed-body"><xsl:value-of select="atom:summary | atom:content" disable-output-escaping="yes"/></div>
    </article>
  </xsl:template>
</xsl:stylesheet>
